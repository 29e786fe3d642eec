# netns client
State     Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
TIME-WAIT 0      0      [2001:db8::1]:43606 [2001:db8::2]:85         
# netns server
State    Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN   0      4096   [2001:db8::2]:85            [::]:*           
LAST-ACK 0      1      [2001:db8::2]:85   [2001:db8::1]:43606       
