# netns client
State Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
# netns server
State     Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN    0      4096   [2001:db8::2]:82            [::]:*           
TIME-WAIT 0      0      [2001:db8::2]:82   [2001:db8::1]:54832       
