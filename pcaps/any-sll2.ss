# netns client
State      Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
ESTAB      0      0      [2001:db8::1]:56798 [2001:db8::2]:80         
FIN-WAIT-1 0      1      [2001:db8::1]:54052 [2001:db8::2]:86         
ESTAB      0      0      [2001:db8::1]:36418 [2001:db8::2]:89         
FIN-WAIT-2 0      0      [2001:db8::1]:38170 [2001:db8::2]:83         
# netns server
State      Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
LISTEN     0      4096   [2001:db8::2]:89            [::]:*           
LISTEN     0      4096   [2001:db8::2]:86            [::]:*           
LISTEN     0      4096   [2001:db8::2]:80            [::]:*           
LISTEN     0      4096   [2001:db8::2]:83            [::]:*           
SYN-RECV   0      0      [2001:db8::2]:89   [2001:db8::1]:36418       
CLOSE-WAIT 0      0      [2001:db8::2]:83   [2001:db8::1]:38170       
ESTAB      0      0      [2001:db8::2]:80   [2001:db8::1]:56798       
ESTAB      0      0      [2001:db8::2]:86   [2001:db8::1]:54052       
